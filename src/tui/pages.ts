// Every page of the single-target view, by id: what app.ts draws and what tests render.

import type { PageId, PageRenderer } from './render';
import { eventsPage } from './views/events';
import { handlesPage } from './views/handles';
import { overviewPage } from './views/overview';
import { poolsPage } from './views/pools';
import { socketsPage } from './views/sockets';
import { workersPage } from './views/workers';

export const PAGE_RENDERERS: Record<PageId, PageRenderer> = {
  overview: overviewPage,
  handles: handlesPage,
  sockets: socketsPage,
  workers: workersPage,
  pools: poolsPage,
  events: eventsPage,
};
