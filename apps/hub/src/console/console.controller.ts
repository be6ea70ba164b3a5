import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Log } from '@muster/log';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import { InjectLog } from '../logging/inject-log';
import { consoleFileFor } from './console-files';

/**
 * The built console, when there is one: MUSTER_CONSOLE_DIR, else the workspace's build of
 * apps/console.
 */
function bundleDir(config: HubConfig): string | undefined {
  if (config.consoleDir) return config.consoleDir;
  try {
    return join(dirname(require.resolve('@muster/console/package.json')), 'dist', 'web');
  } catch {
    return undefined;
  }
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * Serves the web console at /console/: its files with their content types, and index.html for
 * every page of the app, so a reload of /console/jobs/<id> works. The page itself holds no data;
 * everything comes from /api/v1 with the caller's token.
 */
@Controller()
export class ConsoleController {
  private readonly root: string | undefined;

  constructor(@Inject(HUB_CONFIG) config: HubConfig, @InjectLog('console') log: Log) {
    const dir = bundleDir(config);
    this.root = dir && existsSync(join(dir, 'index.html')) ? dir : undefined;
    if (!this.root)
      log.warn('web console not built; /console/ answers 404 (run bash tools/ensure-install.sh)', {
        dir,
      });
  }

  @Get(['console', 'console/{*path}'])
  file(@Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    const url = (req.url ?? '').split('?')[0]!;
    if (url === '/console') {
      // Relative asset URLs and the app's routes hang off /console/.
      res.writeHead(308, { Location: '/console/' });
      res.end();
      return;
    }
    const raw = url.replace(/^\/console\/?/, '');
    let path: string;
    try {
      path = decodeURIComponent(raw);
    } catch {
      path = '\0';
    }
    const file = this.root && consoleFileFor(this.root, path, isFile);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(this.root ? 'not found\n' : 'the web console is not built on this hub\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': file.contentType,
      'Cache-Control': file.cacheControl,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
    });
    createReadStream(file.path).pipe(res);
  }
}
