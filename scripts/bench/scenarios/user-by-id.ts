// A profile read: a live user picked at random, with the token's session.
import { randomId } from '../database.js';
import { loadScenario } from '../measure.js';

export default loadScenario('user-by-id', 'GET /users/:id', 'hot read', {
  method: 'GET',
  path: () => `/users/${randomId()}`,
  token: true,
});
