/**
 * `npm run quality`: the labelled scenarios against fresh `vigil up`s (scenarios.ts).
 * `npm run quality -- clean [--events=1000000 --days=28 --seed=42]`: the false-alarm backfill
 * of clean traffic through the engine (clean-run.ts). Each rewrites its own section of
 * docs/detection-quality.md.
 */
if (process.argv[2] === 'clean') await import('./clean-run.js')
else await import('./scenarios.js')
