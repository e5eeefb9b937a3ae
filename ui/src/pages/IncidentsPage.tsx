import { EuiEmptyPrompt } from '@elastic/eui'

export default function IncidentsPage() {
  return <EuiEmptyPrompt title={<h2>Incidents</h2>} body="Not built yet." />
}
