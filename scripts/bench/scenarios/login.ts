// Logins of live seeded users: one argon2 check each.
import { SEED_PASSWORD } from '../../seed.js';
import { randomId } from '../database.js';
import { loadScenario } from '../measure.js';

export default loadScenario('login', 'POST /login', 'hashing', {
  method: 'POST',
  path: '/login',
  body: () => ({ email: `seed.user.${randomId()}@example.com`, password: SEED_PASSWORD }),
  connections: 8,
});
