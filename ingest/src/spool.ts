/**
 * The local spool: where accepted rows wait, fsync'd, while ClickHouse cannot take them.
 *
 * One file per batch (`<seq>.ndjson`, rows exactly as they would be inserted), written to a
 * temporary name, fsync'd, renamed, and the directory fsync'd: a file either holds a whole
 * batch or does not exist, so a crash never leaves half a batch to replay. Files are
 * replayed oldest first and deleted after their insert returns. A crash between the insert
 * and the delete replays a batch twice; the events table collapses such repeats by
 * (source, api_key_id, ts, id), so nothing is counted twice.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import path from 'node:path'

const NAME = /^(\d{16})\.ndjson$/

export interface SpoolEntry {
  file: string
  seq: number
  bytes: number
}

export class Spool {
  readonly dir: string
  readonly deadDir: string
  #entries: SpoolEntry[] = []
  #bytes = 0
  #nextSeq = 1

  constructor(dir: string) {
    this.dir = dir
    this.deadDir = path.join(dir, 'dead')
    mkdirSync(this.deadDir, { recursive: true, mode: 0o700 })
    for (const f of readdirSync(dir)) {
      const m = NAME.exec(f)
      if (!m) continue
      const seq = Number(m[1])
      const bytes = statSync(path.join(dir, f)).size
      this.#entries.push({ file: path.join(dir, f), seq, bytes })
      this.#bytes += bytes
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1)
    }
    this.#entries.sort((a, b) => a.seq - b.seq)
  }

  get bytes(): number {
    return this.#bytes
  }

  get length(): number {
    return this.#entries.length
  }

  /** Oldest batch waiting, if any. */
  peek(): SpoolEntry | undefined {
    return this.#entries[0]
  }

  /** Durably appends one batch. Resolves only after the data and its name are on disk. */
  async append(body: Buffer): Promise<SpoolEntry> {
    const seq = this.#nextSeq++
    const name = `${String(seq).padStart(16, '0')}.ndjson`
    const final = path.join(this.dir, name)
    const tmp = `${final}.tmp`
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(body)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, final)
    await fsyncDir(this.dir)
    const entry = { file: final, seq, bytes: body.length }
    this.#entries.push(entry)
    this.#bytes += entry.bytes
    return entry
  }

  read(entry: SpoolEntry): Promise<string> {
    return readFile(entry.file, 'utf8')
  }

  /** Forgets a batch that is now in ClickHouse. */
  async remove(entry: SpoolEntry): Promise<void> {
    await unlink(entry.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
    this.#drop(entry)
  }

  /** Moves a batch ClickHouse keeps refusing out of the way, so it cannot block the rest. */
  async bury(entry: SpoolEntry): Promise<string> {
    const to = path.join(this.deadDir, path.basename(entry.file))
    await rename(entry.file, to)
    this.#drop(entry)
    return to
  }

  #drop(entry: SpoolEntry): void {
    const i = this.#entries.indexOf(entry)
    if (i >= 0) {
      this.#entries.splice(i, 1)
      this.#bytes -= entry.bytes
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
