#!/usr/bin/env node
// The CLI runs its TypeScript sources through tsx, so there is no build step between an edit and a run.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
