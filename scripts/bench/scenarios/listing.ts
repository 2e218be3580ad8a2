// The listing's first and last page: the last one must cost no more than the first.
import { USERS } from '../options.js';
import { loadScenario } from '../measure.js';

const PER_PAGE = 10;

export const firstPage = loadScenario('first-page', 'GET /users/pagination (page 1)', 'listing', {
  method: 'GET',
  path: `/users/pagination?page=1&per_page=${PER_PAGE}`,
});

export const lastPage = loadScenario('last-page', 'GET /users/pagination (last page)', 'listing', {
  method: 'GET',
  path: `/users/pagination?page=${Math.ceil(USERS / PER_PAGE)}&per_page=${PER_PAGE}`,
});
