import { AsyncLocalStorage } from 'node:async_hooks';
import type { DatabaseConnection, Dialect, Driver, KyselyPlugin, PluginTransformQueryArgs, RootOperationNode } from 'kysely';

/**
 * The one write path, enforced. A unit of work (store.write) runs inside a transaction the group
 * committer holds open until every unit of its batch is done; anything the unit asks of the
 * database other than through that transaction would wait on it: on SQLite's single connection
 * the query queues behind the transaction forever, never finishing and never failing, and every
 * later write queues behind it. On PostgreSQL it runs on another connection, outside the unit's
 * all-or-nothing. So each unit runs in a scope of its own, and the store's connections refuse to
 * be taken from inside one, with an error saying what to do instead of a hang.
 */
const unitScope = new AsyncLocalStorage<{ open: boolean }>();

/** Runs one unit of work in its scope; the scope closes with it (work it left behind may then read). */
export async function runUnit<T>(work: () => Promise<T>): Promise<T> {
  const scope = { open: true };
  try {
    return await unitScope.run(scope, work);
  } finally {
    scope.open = false;
  }
}

/** Runs `fn` outside any unit's scope: the committer's own work, whoever first handed it a write. */
export const outsideUnits = <T>(fn: () => T): T => unitScope.exit(fn);

/** The error for `what` (what a unit used instead of its transaction) when called from inside a unit of work. */
export function insideUnit(what: string): Error | undefined {
  if (unitScope.getStore()?.open) {
    return new Error(
      `${what} was called from inside a unit of work, where it would wait on the unit's own transaction forever: use the transaction passed to the unit of work (trx), not store.read or store.write`,
    );
  }
  return undefined;
}

/**
 * The store's dialect, its connections refused inside a unit of work (see above). The unit's
 * own transaction already holds its connection and never asks for another.
 */
export function guardDialect(dialect: Dialect): Dialect {
  return {
    createDriver: () => new GuardedDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

class GuardedDriver implements Driver {
  readonly savepoint: Driver['savepoint'];
  readonly rollbackToSavepoint: Driver['rollbackToSavepoint'];
  readonly releaseSavepoint: Driver['releaseSavepoint'];

  constructor(private readonly inner: Driver) {
    this.savepoint = inner.savepoint?.bind(inner);
    this.rollbackToSavepoint = inner.rollbackToSavepoint?.bind(inner);
    this.releaseSavepoint = inner.releaseSavepoint?.bind(inner);
  }

  init = () => this.inner.init();
  acquireConnection = async (): Promise<DatabaseConnection> => {
    const refused = insideUnit('a query on the store outside the unit of work');
    if (refused) throw refused;
    return this.inner.acquireConnection();
  };
  beginTransaction: Driver['beginTransaction'] = (connection, settings) => this.inner.beginTransaction(connection, settings);
  commitTransaction: Driver['commitTransaction'] = (connection) => this.inner.commitTransaction(connection);
  rollbackTransaction: Driver['rollbackTransaction'] = (connection) => this.inner.rollbackTransaction(connection);
  releaseConnection: Driver['releaseConnection'] = (connection) => this.inner.releaseConnection(connection);
  destroy = () => this.inner.destroy();
}

/** Raw SQL that reads: a select, or a SQLite pragma asked for its value (none set). */
const READING = /^\s*(select\b|pragma\s+[\w.]+\s*;?\s*$)/i;

/**
 * Makes a Kysely instance read-only (store.read, the verification thread's reader): selects,
 * and raw SQL that reads (READING), only. Every change goes through store.write, whose
 * commit is synced before anyone hears back; a write around it would skip that sync.
 */
export const readOnly: KyselyPlugin = {
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'SelectQueryNode' || (node.kind === 'RawNode' && READING.test(node.sqlFragments.join('?')))) {
      return node;
    }
    throw new Error(`store.read is read-only and this is a ${node.kind.replace(/Node$/, '')}: make changes in a unit of work (store.write), whose commit is durable before anyone hears back`);
  },
  transformResult: async ({ result }) => result,
};
