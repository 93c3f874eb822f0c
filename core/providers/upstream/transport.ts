import { Agent, fetch as undiciFetch } from 'undici';

/** The HTTP transport of one upstream provider: undici with a connect timeout (Node's global
 *  fetch has no setting for it) and kept-alive connections. Given to the SDKs as their `fetch`. */
export class UpstreamTransport {
  private readonly agent: Agent;

  constructor(connectTimeoutMs: number) {
    this.agent = new Agent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 30_000 });
  }

  readonly fetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher: this.agent })) as unknown as typeof fetch;

  dispose(): Promise<void> {
    return this.agent.close();
  }
}
