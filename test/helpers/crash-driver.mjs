// Runs one channel against a home in a separate process, so a test can SIGKILL it at a
// crash point (BOXKEEP_CRASH_AT) and then recover in its own process.
// usage: node crash-driver.mjs <home> <channel> <json input>
// The supervisor's graceful-stop wait is shortened (the tiny guest has no ACPI daemon).
import { openCore } from '../../dist/electron/core/core.js';
import { createRouter } from '../../dist/electron/core/router.js';

const [home, channel, input] = process.argv.slice(2);
const core = await openCore({ home, owner: 'test', supervisor: { stopTimeoutMs: 2000 } });
try {
  const result = await createRouter(core).invoke(channel, JSON.parse(input));
  process.stdout.write(JSON.stringify(result) + '\n');
  // BOXKEEP_DRIVER_HOLD=1: stay the owner of the home until killed (an app that crashes later).
  if (process.env.BOXKEEP_DRIVER_HOLD === '1') await new Promise(() => setInterval(() => {}, 60_000));
} catch (err) {
  process.stderr.write(JSON.stringify(err.toWire ? err.toWire() : { message: String(err) }));
  process.exitCode = 1;
} finally {
  await core.close();
}
