/**
 * Report downloads: the file name from a Content-Disposition header, and saving a Blob under it
 * (an object URL on a temporary link; the server's CSP has no directive that blocks it).
 */
import { apiFetch, errorOf } from '../api/client.js'

/**
 * The file name a Content-Disposition header gives (RFC 6266): `filename*=UTF-8''…` wins over
 * `filename="…"` or a bare `filename=…`; path parts are dropped. `fallback` when there is none.
 */
export function fileNameFromDisposition(header: string | null | undefined, fallback: string): string {
  if (!header) return fallback
  let name: string | undefined
  const star = /filename\*\s*=\s*([^;]+)/i.exec(header)
  if (star) {
    const value = star[1]!.trim().replace(/^"(.*)"$/, '$1')
    const m = /^([\w-]*)'[^']*'(.*)$/.exec(value)
    try {
      name = decodeURIComponent(m ? m[2]! : value)
    } catch {
      name = undefined
    }
  }
  if (!name) {
    const quoted = /(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)
    if (quoted) name = quoted[1]!.replace(/\\(.)/g, '$1')
    else {
      const bare = /(?:^|;)\s*filename\s*=\s*([^;\s]+)/i.exec(header)
      if (bare) name = bare[1]
    }
  }
  const base = name?.split(/[/\\]/).pop()?.trim()
  return base ? base : fallback
}

/** Fetches a report file with the session's token and saves it; throws ApiError on an error answer. */
export async function downloadReport(id: string, fallbackName: string): Promise<string> {
  const res = await apiFetch(`/v1/reports/${encodeURIComponent(id)}/download`, { headers: { accept: '*/*' } })
  if (!res.ok) throw await errorOf(res)
  const name = fileNameFromDisposition(res.headers.get('content-disposition'), fallbackName)
  const blob = await res.blob()
  const url = URL.createObjectURL(blob)
  try {
    const a = document.createElement('a')
    a.href = url
    a.download = name
    a.rel = 'noopener'
    document.body.appendChild(a)
    a.click()
    a.remove()
  } finally {
    // Revoke after the click has been handed to the browser's download.
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
  return name
}
