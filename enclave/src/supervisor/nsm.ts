// Client of the Nitro Secure Module. The NSM speaks CBOR (the serde encoding of the Rust
// `aws-nitro-enclaves-nsm-api` Request/Response enums) through one ioctl on /dev/nsm; the ioctl sits
// behind `NsmDevice` so the encoding is tested against a fake device off-hardware.
import { Decoder, Encoder } from 'cbor-x';

export interface NsmDevice {
  /** One raw request → one raw response (both CBOR). */
  call(request: Uint8Array): Uint8Array;
}

export const NSM_REQUEST_MAX_SIZE = 0x1000;
export const NSM_RESPONSE_MAX_SIZE = 0x3000;
/** `_IOWR(0x0A, 0, struct nsm_raw)`; `nsm_raw` is two {u64 addr, u64 len} iovecs = 32 bytes. */
export const NSM_IOCTL_RAW = ((3 << 30) | (32 << 16) | (0x0a << 8) | 0) >>> 0;

/** NSM limits of the Attestation request fields (nsm-api: 512 bytes user data / nonce, 1 KiB public key). */
const MAX_USER_DATA = 512;
const MAX_NONCE = 512;
const MAX_PUBLIC_KEY = 1024;

export class NsmError extends Error {
  constructor(
    message: string,
    /** The NSM's error code (`InvalidArgument`, `InternalError`, …) or `DeviceError`/`BadResponse`. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'NsmError';
  }
}

// Plain, minimal-length CBOR: no cbor-x record extension, no typed-array tags; maps decode to objects.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export interface AttestationRequest {
  userData?: Uint8Array;
  nonce?: Uint8Array;
  /** DER SubjectPublicKeyInfo; KMS encrypts `CiphertextForRecipient` to it. */
  publicKey?: Uint8Array;
}

export function encodeAttestationRequest(req: AttestationRequest): Uint8Array {
  checkLength('user_data', req.userData, MAX_USER_DATA);
  checkLength('nonce', req.nonce, MAX_NONCE);
  checkLength('public_key', req.publicKey, MAX_PUBLIC_KEY);
  return encoder.encode({
    Attestation: {
      user_data: req.userData ? Buffer.from(req.userData) : null,
      nonce: req.nonce ? Buffer.from(req.nonce) : null,
      public_key: req.publicKey ? Buffer.from(req.publicKey) : null,
    },
  });
}

export function encodeGetRandomRequest(): Uint8Array {
  // A unit enum variant is serialized as its name.
  return encoder.encode('GetRandom');
}

function checkLength(field: string, value: Uint8Array | undefined, max: number): void {
  if (value && value.length > max) throw new NsmError(`${field} is ${value.length} bytes; the NSM accepts at most ${max}`, 'InputTooLarge');
}

/** Decodes a response; an `Error` variant or an unexpected variant throws `NsmError`. */
export function decodeResponse(raw: Uint8Array, expected: 'Attestation' | 'GetRandom'): Record<string, unknown> {
  let value: unknown;
  try {
    value = decoder.decode(raw);
  } catch (err) {
    throw new NsmError(`NSM response is not CBOR: ${(err as Error).message}`, 'BadResponse');
  }
  if (typeof value === 'object' && value !== null && 'Error' in value) {
    const code = String((value as { Error: unknown }).Error);
    throw new NsmError(`NSM refused the ${expected} request: ${code}`, code);
  }
  if (typeof value !== 'object' || value === null || !(expected in value)) {
    throw new NsmError(`NSM answered a ${expected} request with something else`, 'BadResponse');
  }
  const body = (value as Record<string, unknown>)[expected];
  if (typeof body !== 'object' || body === null) throw new NsmError(`NSM ${expected} response has no body`, 'BadResponse');
  return body as Record<string, unknown>;
}

function bytesField(body: Record<string, unknown>, field: string): Uint8Array {
  const v = body[field];
  if (!(v instanceof Uint8Array) || v.length === 0) throw new NsmError(`NSM response lacks ${field}`, 'BadResponse');
  return new Uint8Array(v);
}

export class Nsm {
  constructor(private readonly device: NsmDevice) {}

  /** A COSE_Sign1 attestation document signed by the NSM. */
  attestation(req: AttestationRequest): Uint8Array {
    return bytesField(decodeResponse(this.device.call(encodeAttestationRequest(req)), 'Attestation'), 'document');
  }

  /** `length` bytes from the NSM's hardware RNG (it returns up to 256 per call). */
  random(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = bytesField(decodeResponse(this.device.call(encodeGetRandomRequest()), 'GetRandom'), 'random');
      const n = Math.min(chunk.length, length - filled);
      out.set(chunk.subarray(0, n), filled);
      filled += n;
    }
    return out;
  }
}

/**
 * The real /dev/nsm through libc `open`/`ioctl` with koffi. Buffers live in koffi-allocated memory so
 * their addresses can be written into `nsm_raw`.
 */
export async function openNsmDevice(path = '/dev/nsm'): Promise<NsmDevice & { close(): void }> {
  const { default: koffi } = await import('koffi');
  const libc = koffi.load('libc.so.6');
  const open = libc.func('int open(const char *path, int flags)');
  const ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)');
  const closeFd = libc.func('int close(int fd)');
  const O_RDWR = 2;
  const fd = open(path, O_RDWR) as number;
  if (fd < 0) throw new NsmError(`cannot open ${path} (errno ${koffi.errno()}): not inside a Nitro Enclave?`, 'DeviceError');
  return {
    call(request) {
      if (request.length > NSM_REQUEST_MAX_SIZE) throw new NsmError(`NSM request of ${request.length} bytes is too large`, 'InputTooLarge');
      const req = koffi.alloc('uint8_t', Math.max(request.length, 1));
      const res = koffi.alloc('uint8_t', NSM_RESPONSE_MAX_SIZE);
      const msg = koffi.alloc('uint8_t', 32);
      try {
        new Uint8Array(koffi.view(req, request.length)).set(request);
        const header = new DataView(koffi.view(msg, 32));
        header.setBigUint64(0, koffi.address(req), true);
        header.setBigUint64(8, BigInt(request.length), true);
        header.setBigUint64(16, koffi.address(res), true);
        header.setBigUint64(24, BigInt(NSM_RESPONSE_MAX_SIZE), true);
        const rc = ioctl(fd, NSM_IOCTL_RAW, msg) as number;
        if (rc < 0) throw new NsmError(`ioctl on ${path} failed (errno ${koffi.errno()})`, 'DeviceError');
        const length = Number(header.getBigUint64(24, true));
        if (length > NSM_RESPONSE_MAX_SIZE) throw new NsmError(`NSM response length ${length} exceeds the buffer`, 'BadResponse');
        return new Uint8Array(koffi.view(res, length)).slice();
      } finally {
        koffi.free(req);
        koffi.free(res);
        koffi.free(msg);
      }
    },
    close() {
      closeFd(fd);
    },
  };
}
