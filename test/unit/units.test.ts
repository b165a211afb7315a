import t from 'tap';
import { formatSize, formatTime, parseSize, parseTime } from '../../src/common/units.js';

t.test('parseSize', async (t) => {
  t.equal(parseSize('500m'), 500);
  t.equal(parseSize('1.5g'), 1536);
  t.equal(parseSize('2048'), 2048);
  t.equal(parseSize('1G'), 1024);
  t.equal(parseSize('1t'), 1024 * 1024);
  t.equal(parseSize('512k'), 1); // rounded: half a MB
  t.throws(() => parseSize('lots'), /bad size 'lots'/);
  t.throws(() => parseSize('-5m'), /bad size/);
  t.throws(() => parseSize('0'), /at least 1 MB/);
});

t.test('parseTime', async (t) => {
  t.equal(parseTime('30s'), 30);
  t.equal(parseTime('10m'), 600);
  t.equal(parseTime('2h'), 7200);
  t.equal(parseTime('3d'), 259200);
  t.equal(parseTime('1h30m'), 5400);
  t.equal(parseTime('45'), 45);
  t.throws(() => parseTime('soon'), /bad time 'soon'/);
  t.throws(() => parseTime('2w'), /bad time/);
  t.throws(() => parseTime('0s'), /bad time/);
});

t.test('formatTime keeps the two largest units, truncated', async (t) => {
  t.equal(formatTime(3725), '1h2m');
  t.equal(formatTime(60), '1m0s');
  t.equal(formatTime(0), '0s');
  t.equal(formatTime(59.9), '59s');
  t.equal(formatTime(86399), '23h59m');
  t.equal(formatTime(172800), '2d0h');
  t.equal(formatTime(31536000), '1y0d');
  t.equal(formatTime(-1), '-');
});

t.test('formatSize: MB below 10 GB, whole GB from there', async (t) => {
  t.equal(formatSize(512), '512m');
  t.equal(formatSize(1536), '1536m');
  t.equal(formatSize(10239), '10239m');
  t.equal(formatSize(10240), '10g');
  t.equal(formatSize(15359), '14g');
  t.equal(formatSize(2.4), '2m');
  t.equal(formatSize(-1), '-');
});
