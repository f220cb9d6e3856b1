// Pages whose data comes from samplers that are not part of every sample yet.

import type { Sample } from '../../model/sample';
import type { History, Painter, ViewState } from '../render';

export function notSampledPage(what: string): (s: Sample, prev: Sample | null, h: History, st: ViewState, p: Painter) => string[] {
  return (_s, _prev, _h, _st, p) => ['', p.paint(`  ${what} are not in this sample.`, 'dim')];
}
