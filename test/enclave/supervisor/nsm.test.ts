import { describe, expect, it } from '@jest/globals';
import { Encoder } from 'cbor-x';
import {
  NSM_IOCTL_RAW,
  Nsm,
  NsmError,
  decodeResponse,
  encodeAttestationRequest,
  encodeGetRandomRequest,
  openNsmDevice,
} from '../../../enclave/src/supervisor/nsm';
import { FakeNsmDevice } from '../support/fake-nitro';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => Buffer.from(s).toString('hex');
const cbor = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true, variableMapSize: true });

describe('NSM request encoding (serde CBOR of the nsm-api Request enum)', () => {
  it('encodes Attestation {user_data, nonce, public_key} as a one-entry map of a three-entry map, absent fields as null', () => {
    const expected =
      'a1' + '6b' + ascii('Attestation') +
      'a3' + '69' + ascii('user_data') + '42' + '0102' +
      '65' + ascii('nonce') + '41' + '03' +
      '6a' + ascii('public_key') + 'f6';
    expect(hex(encodeAttestationRequest({ userData: Uint8Array.of(1, 2), nonce: Uint8Array.of(3) }))).toBe(expected);
  });

  it('encodes the public key as a byte string', () => {
    const encoded = hex(encodeAttestationRequest({ publicKey: Uint8Array.of(0xaa, 0xbb) }));
    expect(encoded).toContain('6a' + ascii('public_key') + '42' + 'aabb');
    expect(encoded).toContain('69' + ascii('user_data') + 'f6');
  });

  it('encodes GetRandom as the bare variant name', () => {
    expect(hex(encodeGetRandomRequest())).toBe('69' + ascii('GetRandom'));
  });

  it('refuses fields larger than the NSM accepts before touching the device', () => {
    expect(() => encodeAttestationRequest({ userData: new Uint8Array(513) })).toThrow(/user_data is 513 bytes/);
    expect(() => encodeAttestationRequest({ nonce: new Uint8Array(513) })).toThrow(NsmError);
    expect(() => encodeAttestationRequest({ publicKey: new Uint8Array(1025) })).toThrow(/public_key/);
  });

  it('uses the _IOWR(0x0A, 0, struct nsm_raw) ioctl number', () => {
    expect(NSM_IOCTL_RAW).toBe(0xc0200a00);
  });
});

describe('NSM response decoding', () => {
  it('returns the document of an Attestation response', () => {
    const raw = cbor.encode({ Attestation: { document: Buffer.from('doc') } });
    const nsm = new Nsm({ call: () => raw });
    expect(Buffer.from(nsm.attestation({})).toString()).toBe('doc');
  });

  it('turns an Error response into NsmError carrying the NSM error code', () => {
    const device = new FakeNsmDevice();
    device.failWith = 'InvalidArgument';
    const nsm = new Nsm(device);
    expect(() => nsm.attestation({ userData: Uint8Array.of(1) })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => nsm.random(8)).toThrow(/refused the GetRandom request: InvalidArgument/);
  });

  it('refuses a response of another variant than the request', () => {
    expect(() => decodeResponse(cbor.encode({ GetRandom: { random: Buffer.alloc(4) } }), 'Attestation')).toThrow(
      expect.objectContaining({ code: 'BadResponse' }),
    );
  });

  it('refuses bytes that are not CBOR and responses without the expected field', () => {
    expect(() => decodeResponse(Uint8Array.of(0xff, 0xff), 'GetRandom')).toThrow(expect.objectContaining({ code: 'BadResponse' }));
    const nsm = new Nsm({ call: () => cbor.encode({ Attestation: { document: Buffer.alloc(0) } }) });
    expect(() => nsm.attestation({})).toThrow(/lacks document/);
  });

  it('sends exactly the encoded request to the device', () => {
    const device = new FakeNsmDevice();
    new Nsm(device).attestation({ userData: Uint8Array.of(9), nonce: Uint8Array.of(8), publicKey: Uint8Array.of(7) });
    const [req] = device.requests as { Attestation: Record<string, Uint8Array> }[];
    expect([...req.Attestation.user_data]).toEqual([9]);
    expect([...req.Attestation.nonce]).toEqual([8]);
    expect([...req.Attestation.public_key]).toEqual([7]);
  });

  it('GetRandom: gathers as many calls as needed for the requested length', () => {
    const device = new FakeNsmDevice();
    const bytes = new Nsm(device).random(600);
    expect(bytes).toHaveLength(600);
    expect(device.requests).toEqual(['GetRandom', 'GetRandom', 'GetRandom']);
    expect(Buffer.from(bytes.subarray(0, 64)).equals(Buffer.from(bytes.subarray(256, 320)))).toBe(false);
  });
});

describe('the real /dev/nsm binding (koffi)', () => {
  it('fails with a clear error outside an enclave (no device)', async () => {
    await expect(openNsmDevice('/nonexistent/nsm')).rejects.toThrow(/cannot open \/nonexistent\/nsm .*not inside a Nitro Enclave/);
  });

  it('reports the ioctl errno when the device does not speak NSM (/dev/null: ENOTTY)', async () => {
    const device = await openNsmDevice('/dev/null');
    try {
      expect(() => device.call(encodeGetRandomRequest())).toThrow(expect.objectContaining({ code: 'DeviceError', message: expect.stringMatching(/errno 25/) }));
    } finally {
      device.close();
    }
  });
});
