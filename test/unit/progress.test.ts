import { progressReporter } from '../../cli/progress';
import type { StoredEvent } from '../../src/core/history';

function reporter(isTTY: boolean) {
  let text = '';
  const report = progressReporter({ write: (s) => (text += s), isTTY });
  return { report, text: () => text };
}

const entered = (state: string, timestamp = 0): StoredEvent => ({ type: 'StateEntered', state, stateType: 'Task', timestamp });
const exited = (state: string, timestamp: number): StoredEvent => ({
  type: 'StateExited',
  state,
  stateType: 'Task',
  timestamp,
  segments: 3,
});

describe('progress while SegmentMedia runs', () => {
  it('in a log, writes a line per tenth of the input, then the state line', () => {
    const { report, text } = reporter(false);
    report(entered('SegmentMedia'));
    for (const seconds of [0.5, 1, 3.1, 3.3, 9.9, 20]) report.segmenting(seconds, 20);
    report(exited('SegmentMedia', 2000));
    expect(text().split('\n')).toEqual([
      '  ...     SegmentMedia       2%  0.5 s of 20.0 s',
      '  ...     SegmentMedia      15%  3.1 s of 20.0 s',
      '  ...     SegmentMedia      49%  9.9 s of 20.0 s',
      '  ...     SegmentMedia     100%  20.0 s of 20.0 s',
      '  ok      SegmentMedia        2.0s  3 segments',
      '',
    ]);
  });

  it('on a terminal, rewrites one line and ends it before the next', () => {
    const { report, text } = reporter(true);
    report(entered('SegmentMedia'));
    report.segmenting(99.5, 100);
    report.segmenting(100, 100);
    report(exited('SegmentMedia', 1000));
    expect(text()).toBe(
      '\r  ...     SegmentMedia      99%  99.5 s of 100.0 s' +
        '\r  ...     SegmentMedia     100%  100.0 s of 100.0 s' +
        '\n  ok      SegmentMedia        1.0s  3 segments\n',
    );
  });
});
