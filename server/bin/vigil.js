#!/usr/bin/env node
// The `vigil` command (CONTRACT §6): a shim over the built CLI so it runs without a
// TypeScript loader. `npm run build` (or scripts/setup.sh) produces ../dist.
let cli
try {
  cli = await import('../dist/cli.js')
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    process.stderr.write('vigil: not_built: server/dist is missing; run `npm run build` first\n')
    process.exit(1)
  }
  throw err
}
await cli.run()
