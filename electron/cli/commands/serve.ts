// boxkeep serve: the Boxkeep UI in a browser, from this machine's 127.0.0.1. Unlike the other
// commands it runs until stopped and takes the home itself (or forwards to the running app),
// so main() hands it the home instead of opening the engine for it.
import { BoxkeepError } from '../../../shared/errors.js';
import { jsonLogger, type Logger } from '../../core/logger.js';
import { num, on, type CommandGroup, type StandaloneCtx } from '../command.js';
import type { Io } from '../io.js';

export async function runServe(ctx: StandaloneCtx): Promise<number> {
  // Loaded here, not at the top: every other command (even --help) would pay for the web
  // host, ws and electron-log at start-up (about 200 ms measured).
  const [{ serve }, { rendererBuilt }] = await Promise.all([import('../../host/serve.js'), import('../../host/static-files.js')]);
  const logger = await serveLogger(ctx.env, ctx.io);
  const serving = await serve({ home: ctx.home, port: num(ctx.args, 'port'), newToken: on(ctx.args, 'new-token'), logger });
  const stopped = ctx.until ?? untilSignal();
  if (ctx.json) {
    ctx.io.stdout(JSON.stringify({ url: serving.url, port: serving.port, mode: serving.mode }) + '\n');
  } else {
    const how = serving.mode === 'forwarding' ? 'The Boxkeep app owns this home; the page works through it.' : `Serving the home ${ctx.home}.`;
    const moved = serving.movedFrom
      ? `Port ${serving.movedFrom}, used last time, is taken now, so the address changed: a page still open at the old one cannot reconnect; open this one.\n`
      : '';
    ctx.io.stdout(`Boxkeep is at ${serving.url}\n${moved}${how}\nOpen the address in a browser on this machine (it carries the access token). Press Ctrl+C to stop.\n`);
    if (!rendererBuilt(serving.staticDir)) ctx.io.stderr(`boxkeep: the UI is not built yet (no ${serving.staticDir}/index.html): run \`npm run build:renderer\`, then reload the page.\n`);
  }
  logger.info('serve started', { op: 'serve', port: serving.port, mode: serving.mode });
  await stopped;
  await serving.close();
  logger.info('serve stopped', { op: 'serve' });
  return 0;
}

async function serveLogger(env: Record<string, string | undefined>, io: Io): Promise<Logger> {
  // BOXKEEP_LOG=1 mirrors the CLI's switch: JSON lines on stderr, for scripts and debugging.
  if (env.BOXKEEP_LOG) return jsonLogger(io.stderr);
  const [{ default: log }, { configureFileLog, structuredLogger }] = await Promise.all([import('electron-log/node'), import('../../shell/logging.js')]);
  configureFileLog(log as never, 'serve.log');
  return structuredLogger(log, 'serve');
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export const serveCommands: CommandGroup = {
  name: '',
  title: 'The browser UI',
  commands: [
    {
      usage: 'serve [--port P] [--new-token]',
      summary: 'Serve the Boxkeep UI to a browser on this machine, at a 127.0.0.1 address carrying an access token.',
      details:
        'Prints the address to open; only this machine can reach it, and only the page opened from that address\n' +
        '(it carries an access token) can use Boxkeep.\n' +
        'The port and the token are remembered in the home (serve.json, readable only by you), so a page left\n' +
        'open across a restart reconnects; --new-token retires the token (pages opened before stop working).\n' +
        'Without --port the last port is used again when it is free, else any free port; --port 0 means any\n' +
        'free port. The printed address names the port.\n' +
        'If the Boxkeep app is running, the page works through it; otherwise this command owns the home\n' +
        'until stopped with Ctrl+C, and other boxkeep commands go through it.',
      kinds: { port: 'int' },
      check(args) {
        const port = num(args, 'port');
        // 0 is the system's "any free port", as for listen(2); the real one is in the printed URL.
        if (port !== undefined && (port < 0 || port > 65535)) return `The port must be between 1 and 65535, or 0 for any free port (got ${port}).`;
        return null;
      },
      standalone: runServe,
      run() {
        return Promise.reject(new BoxkeepError('Internal', '`serve` runs on its own; this build dispatched it like a one-shot command.'));
      },
    },
  ],
};
