/**
 * Setup file of the integration project (vitest.config.ts): the control plane reads its settings from the
 * environment only, so tests, and the services they spawn, get the local stack's addresses the way
 * `npm start` gives them, from scripts/stack.env under whatever the environment already sets.
 */
import { feedStackEnv } from '../stack-env.ts';

feedStackEnv();
