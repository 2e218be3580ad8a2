// Every scenario, in the order a round measures them; --only picks some.
import { ONLY } from '../options.js';
import type { Scenario, ScenarioKind } from '../types.js';
import { FLOOD_ID } from './flood.js';
import { firstPage, lastPage } from './listing.js';
import login from './login.js';
import loginMfa from './login-mfa.js';
import profileUpdate from './profile-update.js';
import protectedWhileLogins from './protected-while-logins.js';
import tokenCheck from './protected.js';
import registration from './registration.js';
import userById from './user-by-id.js';

const all: Scenario[] = [
  tokenCheck,
  userById,
  firstPage,
  lastPage,
  login,
  loginMfa,
  registration,
  profileUpdate,
  protectedWhileLogins,
];

/** What --only may name. */
export const SCENARIO_IDS = [...all.map((scenario) => scenario.id), FLOOD_ID];
export const scenarios = all.filter((scenario) => !ONLY || ONLY.includes(scenario.id));
/** Whether the rounds end with the flood (it is not an autocannon scenario: scenarios/flood.ts). */
export const MEASURES_FLOOD = !ONLY || ONLY.includes(FLOOD_ID);

export const ofKinds = (kinds: ScenarioKind[]) => scenarios.filter((scenario) => kinds.includes(scenario.kind));
