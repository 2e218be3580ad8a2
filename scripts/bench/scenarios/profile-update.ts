// Profile updates of one user: a write that changes no email, one statement.
import { loadScenario } from '../measure.js';

export default loadScenario('profile-update', 'PUT /users/update/:id', 'write', {
  method: 'PUT',
  path: '/users/update/1',
  body: () => ({ first_name: `Bench ${Date.now() % 1000}` }),
  token: true,
});
