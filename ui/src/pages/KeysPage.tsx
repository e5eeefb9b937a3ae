import { EuiEmptyPrompt } from '@elastic/eui'

export default function KeysPage() {
  return <EuiEmptyPrompt title={<h2>Keys</h2>} body="Not built yet." />
}
