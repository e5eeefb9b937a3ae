import { EuiEmptyPrompt } from '@elastic/eui'

export default function ReportsPage() {
  return <EuiEmptyPrompt title={<h2>Reports</h2>} body="Not built yet." />
}
