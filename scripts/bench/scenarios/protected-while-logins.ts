// Token checks while logins hash at full speed beside them: whether the
// hashing admission leaves the token checks a core.
import { cannon, sampled } from '../measure.js';
import { SECONDS } from '../options.js';
import type { Scenario } from '../types.js';
import login from './login.js';
import tokenCheck from './protected.js';

const scenario: Scenario = {
  id: 'protected-while-logins',
  name: 'GET /protected while logins run',
  kind: 'under logins',
  async measure(server) {
    await cannon(server.url, tokenCheck.load, server.token, 1);
    const sample = await sampled(server, async () => {
      const [result] = await Promise.all([
        cannon(server.url, { ...tokenCheck.load, connections: 16 }, server.token, SECONDS),
        cannon(server.url, { ...login.load, connections: 16 }, server.token, SECONDS),
      ]);
      return result;
    });
    // The server's CPU went to the hashing too: per token check it means nothing.
    return { ...sample, serverCpuUsPerRequest: Number.NaN };
  },
};
export default scenario;
