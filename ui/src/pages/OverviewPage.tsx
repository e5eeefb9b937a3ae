import { EuiEmptyPrompt } from '@elastic/eui'

export default function OverviewPage() {
  return <EuiEmptyPrompt title={<h2>Overview</h2>} body="Not built yet." />
}
