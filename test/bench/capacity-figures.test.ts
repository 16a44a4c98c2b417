import { describe, expect, it } from '@jest/globals';
import { fillFigures, parseFigures, placeholders } from './capacity-figures';

describe('capacity figures', () => {
  const output = ['# token-check.bench.ts', 'token_check_hot_ratio: 3.46', 'coldstart_healthz_first_call: 200', 'noise line', '# took 3 s'].join('\n');

  it('reads the name: value lines of a bench run and nothing else', () => {
    expect([...parseFigures(output)]).toEqual([['token_check_hot_ratio', '3.46'], ['coldstart_healthz_first_call', '200']]);
  });

  it('replaces the value beside each placeholder, keeps the placeholder, and adds a value where none was', () => {
    const doc = 'hot <<bench:token_check_hot_ratio>> (3.9)× and <<bench:coldstart_healthz_first_call>> answers; `<<bench:name>>` explains.';
    expect(fillFigures(doc, parseFigures(output))).toEqual({
      doc: 'hot <<bench:token_check_hot_ratio>> (3.46)× and <<bench:coldstart_healthz_first_call>> (200) answers; `<<bench:name>>` explains.',
      missing: [],
    });
  });

  it('lists the placeholders the run did not print and leaves them as they were', () => {
    const doc = 'a <<bench:indexer_page_limit>> (50) b <<bench:indexer_page_limit>> (50)';
    expect(fillFigures(doc, parseFigures(output))).toEqual({ doc, missing: ['indexer_page_limit'] });
    expect(placeholders(`${doc} <<bench:name>>`)).toEqual(['indexer_page_limit']);
  });
});
