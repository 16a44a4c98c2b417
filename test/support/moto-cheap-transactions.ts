// A moto server of a test's own whose TransactWriteItems does not deep-copy the whole table. moto backs a
// table up before every action of a transaction (copy.deepcopy per action: 2.6 s at 20,000 items here), a
// cost DynamoDB does not have, which makes a test of tens of thousands of items take hours. This server
// backs each table up once per transaction and copies its item containers, not the items: Put, Delete and
// ConditionCheck replace, drop or only read whole items, so that backup restores exactly what they change.
// A transaction with an Update (which changes an item in place) keeps moto's own full backup.
import { ensureTestTools } from './test-tools';
import { spawnMotoServer, type MotoServer } from './moto-server';

const PRELUDE = `
import copy as _copy, threading as _threading
from collections import defaultdict as _defaultdict
import moto.dynamodb.models as _models
from moto.dynamodb.models.table import Table as _Table
_local = _threading.local()
def _snapshot(table):
    clone = _copy.copy(table)
    if table.range_key_attr:
        clone.items = _defaultdict(dict, {h: dict(r) for h, r in table.items.items()})
    else:
        clone.items = _defaultdict(dict, dict(table.items))
    return clone
class _Copy:
    def __getattr__(self, name):
        return getattr(_copy, name)
    def deepcopy(self, obj, memo=None):
        cache = getattr(_local, 'cache', None)
        if cache is not None and isinstance(obj, _Table):
            if id(obj) not in cache:
                cache[id(obj)] = _snapshot(obj)
            return cache[id(obj)]
        return _copy.deepcopy(obj, memo)
_models.copy = _Copy()
_original = _models.DynamoDBBackend.transact_write_items
def _transact_write_items(self, transact_items):
    if any('Update' in item for item in transact_items):
        return _original(self, transact_items)
    _local.cache = {}
    try:
        return _original(self, transact_items)
    finally:
        _local.cache = None
_models.DynamoDBBackend.transact_write_items = _transact_write_items
`;

export async function startMotoWithCheapTransactions(): Promise<MotoServer> {
  const tools = await ensureTestTools((line) => console.error(line));
  if (!tools.moto.ok) throw new Error(`moto is unavailable: ${tools.moto.reason}`);
  return spawnMotoServer(tools.moto.path, PRELUDE);
}
