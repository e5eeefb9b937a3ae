import { EuiEmptyPrompt } from '@elastic/eui'

export default function RulesPage() {
  return <EuiEmptyPrompt title={<h2>Rules</h2>} body="Not built yet." />
}
