// Every page of the single-target view, by id: what app.ts draws and what tests render.

import type { Sample } from '../model/sample';
import type { PageId, PageRenderer, ViewState } from './render';
import { eventsPage } from './views/events';
import { handleListRows, handlesPage } from './views/handles';
import { PLAIN, type ListRow } from './views/lists';
import { overviewPage } from './views/overview';
import { poolListRows, poolsPage } from './views/pools';
import { socketListRows, socketsPage } from './views/sockets';
import { workerListRows, workersPage } from './views/workers';


export const PAGE_RENDERERS: Record<PageId, PageRenderer> = {
  overview: overviewPage,
  handles: handlesPage,
  sockets: socketsPage,
  workers: workersPage,
  pools: poolsPage,
  events: eventsPage,
};

/** The keyed rows of each list page, in the order drawn (for the keys that move the selection). */
export const PAGE_ROWS: Partial<Record<PageId, (s: Sample, prev: Sample | null, st: ViewState, width: number) => ListRow[]>> = {
  handles: (s, prev, st) => handleListRows(s, prev, st, PLAIN),
  sockets: (s, _prev, st, width) => socketListRows(s, st, PLAIN, width),
  workers: (s, _prev, st, width) => workerListRows(s, st, PLAIN, width),
  pools: (s, prev, st, width) => poolListRows(s, prev, st, PLAIN, width),
};

/** The pages where Enter opens the selected row. */
export const DRILLS: ReadonlySet<PageId> = new Set<PageId>(['sockets', 'pools', 'workers']);
