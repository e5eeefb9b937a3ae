import { EuiEmptyPrompt } from '@elastic/eui'

export default function KillSwitchesPage() {
  return <EuiEmptyPrompt title={<h2>KillSwitches</h2>} body="Not built yet." />
}
