// How a node learns that another node changed a table it caches (keys, above all: a key revoked
// on one node must fail on every node within a second). Every change is announced with
// PostgreSQL's NOTIFY on one channel, the table's name as payload, in the transaction that makes
// it (so it is heard only once committed), and each node LISTENs on one connection of its own.
import pg from 'pg';

export const changeChannel = 'llmsvc_changes';

/** The statement a repository runs in a changing transaction to announce it: $1 is the table. */
export const announceChangeSql = `SELECT pg_notify('${changeChannel}', ?)`;

const reconnectDelayMs = 500;

export class PostgresChangeFeed {
  private readonly versions = new Map<string, number>();
  /** Moves whenever the listening connection was lost: every table may have changed meanwhile,
   *  unheard, so every version moves with it. */
  private connectionGeneration = 0;
  private client: pg.Client | undefined;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly url: string,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Listens from the start: a change committed after this resolves is heard. */
  static async open(url: string, onError: (error: Error) => void): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(url, onError);
    await feed.listen();
    return feed;
  }

  /** A number that moves whenever `table` may have changed through another connection; compare it
   *  with the one seen last, as SQLite's data_version. Synchronous: read on every request. */
  version(table: string): number {
    return (this.versions.get(table) ?? 0) + this.connectionGeneration;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => {
      if (message.channel !== changeChannel || !message.payload) return;
      this.versions.set(message.payload, (this.versions.get(message.payload) ?? 0) + 1);
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    await client.connect();
    await client.query(`LISTEN ${changeChannel}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.client = client;
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.connectionGeneration++;
    if (error) this.onError(error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.listen().then(
        // Changes made between the loss and now went unheard.
        () => this.connectionGeneration++,
        (error: Error) => {
          this.onError(error);
          if (!this.closed) this.scheduleReconnect();
        },
      );
    }, reconnectDelayMs);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end();
  }
}
