// BCS layouts of the package's owned objects, as the gRPC API returns their contents. Field order and types
// equal the Move structs (`UID`/`ID` are 32-byte addresses).
import { bcs } from '@mysten/sui/bcs';

export const SEAL_TOKEN_OBJECT = bcs.struct('SealToken', {
  id: bcs.Address,
  stake_id: bcs.Address,
  owner: bcs.Address,
  role: bcs.u8(),
  permissions: bcs.vector(bcs.string()),
  cluster_id: bcs.string(),
  issued_at_ms: bcs.u64(),
  expires_at_ms: bcs.u64(),
});

export const STAKE_RECEIPT_OBJECT = bcs.struct('StakeReceipt', {
  id: bcs.Address,
  pool_id: bcs.Address,
});
