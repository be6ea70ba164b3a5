import { consoleFileFor } from './console-files';

const root = '/srv/console';
const files = new Set([
  '/srv/console/index.html',
  '/srv/console/assets/index-abc.js',
  '/srv/console/assets/index-abc.css',
  '/srv/console/favicon.svg',
]);
const at = (p: string) => consoleFileFor(root, p, (f) => files.has(f));

describe('consoleFileFor', () => {
  it.each([
    ['assets/index-abc.js', '/srv/console/assets/index-abc.js', 'text/javascript; charset=utf-8'],
    ['assets/index-abc.css', '/srv/console/assets/index-abc.css', 'text/css; charset=utf-8'],
    ['favicon.svg', '/srv/console/favicon.svg', 'image/svg+xml'],
    ['', '/srv/console/index.html', 'text/html; charset=utf-8'],
    ['jobs', '/srv/console/index.html', 'text/html; charset=utf-8'],
    ['jobs/4f1c-9a', '/srv/console/index.html', 'text/html; charset=utf-8'],
  ])('answers %j with %s as %s', (path, file, type) => {
    expect(at(path)).toMatchObject({ path: file, contentType: type });
  });

  it('caches hashed assets for good and revalidates the page', () => {
    expect(at('assets/index-abc.js')?.cacheControl).toContain('immutable');
    expect(at('clusters')?.cacheControl).toBe('no-cache');
  });

  it.each(['assets/missing.js', 'nope.css', 'a\0b.js', 'index.html\0.png'])(
    'answers nothing for the missing asset or odd name %j',
    (path) => {
      expect(at(path)).toBeUndefined();
    },
  );

  it('never leaves the folder, however the path climbs', () => {
    for (const p of [
      '../secret',
      '../../etc/passwd',
      'assets/../../x',
      '/../x',
      '../console-other/x',
    ])
      expect(at(p)?.path).toBe('/srv/console/index.html');
    // Climbing stops at the bundle's root: this names srv/console/favicon.svg inside it.
    expect(at('../../srv/console/favicon.svg')).toBeUndefined();
  });
});
