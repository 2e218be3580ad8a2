// A token check: the signature (remembered once checked) and the session read behind every request.
import { loadScenario } from '../measure.js';

export default loadScenario('protected', 'GET /protected', 'hot read', {
  method: 'GET',
  path: '/protected',
  token: true,
});
