import { EuiEmptyPrompt } from '@elastic/eui'

export default function AlertsPage() {
  return <EuiEmptyPrompt title={<h2>Alerts</h2>} body="Not built yet." />
}
