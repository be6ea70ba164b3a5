// Which file of the built console answers a path under /console/: a file of the bundle, else
// index.html for a page of the single-page app, else nothing. Pure, so the rules are tested alone.
import { extname, join, normalize, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ConsoleFile {
  /** Absolute path inside the bundle folder. */
  path: string;
  contentType: string;
  /** Vite's hashed assets never change under one name; index.html must be revalidated. */
  cacheControl: string;
}

/**
 * The file for `requestPath` (the part after /console/, URL-decoded) in `root`: undefined when
 * it would leave the folder or names a missing asset. `exists` is asked about paths in `root`.
 */
export function consoleFileFor(
  root: string,
  requestPath: string,
  exists: (path: string) => boolean,
): ConsoleFile | undefined {
  if (requestPath.includes('\0')) return undefined;
  const relative = normalize(`/${requestPath}`).slice(1);
  const path = join(root, relative);
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  const ext = extname(relative).toLowerCase();
  if (relative !== '' && exists(path) && CONTENT_TYPES[ext])
    return {
      path,
      contentType: CONTENT_TYPES[ext],
      cacheControl: relative.startsWith(`assets${sep}`)
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
    };
  // A path with an extension names an asset: a missing one is 404, not the app.
  if (ext !== '') return undefined;
  return {
    path: join(root, 'index.html'),
    contentType: CONTENT_TYPES['.html']!,
    cacheControl: 'no-cache',
  };
}
