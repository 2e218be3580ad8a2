// A TCP proxy to the database that can go silent, as a network partition
// does: it keeps its connections open and passes nothing, without refusing
// anything.
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface PartitionableProxy {
  port: number;
  /** Every connection, open now or later, passes nothing more. */
  goSilent(): void;
  /** The connections open now pass nothing more; new ones work. */
  silenceOpenConnections(): void;
  close(): Promise<void>;
}

export async function partitionableProxy(target: URL): Promise<PartitionableProxy> {
  const sockets: Socket[] = [];
  const silenced = new WeakSet<Socket>();
  let silent = false;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.push(client, upstream);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('data', (chunk) => {
        if (!silent && !silenced.has(from)) to.write(chunk);
      });
      from.on('error', () => {});
      from.on('close', () => to.destroy());
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    goSilent: () => void (silent = true),
    silenceOpenConnections: () => sockets.forEach((socket) => silenced.add(socket)),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
