// The parts of the SDK the multisig and zkLogin paths of credential.ts need. credential.ts imports this
// module on the first signature that needs it, so a container that only sees single-key credentials
// never evaluates the SDK's curves; importing it through one module of named re-exports (rather than
// the SDK's entry points dynamically) lets the bundler drop everything else in those entry points.
export { bcs } from '@mysten/sui/bcs';
export { parseSerializedSignature } from '@mysten/sui/cryptography';
export { isValidPersonalMessageSignature, publicKeyFromRawBytes } from '@mysten/sui/verify';
