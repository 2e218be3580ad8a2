// Registrations of new accounts, each with an email of its own: one argon2 hash each.
import { loadScenario } from '../measure.js';

let registered = 0;

export default loadScenario('registration', 'POST /users', 'hashing', {
  method: 'POST',
  path: '/users',
  body: () => {
    registered += 1;
    const tag = `${process.pid}.${Date.now()}.${registered}`;
    return {
      email: `bench.${tag}@example.com`,
      user_name: `b.${tag}`.slice(0, 32),
      first_name: 'Bench',
      last_name: 'User',
      password: 'bench-password-1',
    };
  },
  connections: 8,
});
