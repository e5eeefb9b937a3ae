/** Incidents: the list at /incidents, one incident with its timeline at /incidents/:id. */
import { EuiSpacer, EuiText, EuiTitle } from '@elastic/eui'
import { useParams } from 'react-router-dom'
import { IncidentList } from '../incidents/IncidentList.js'
import { IncidentView } from '../incidents/IncidentView.js'

export default function IncidentsPage() {
  const { id } = useParams<{ id?: string }>()
  if (id) return <IncidentView key={id} id={id} />
  return (
    <>
      <EuiTitle size="l">
        <h1>Incidents</h1>
      </EuiTitle>
      <EuiText size="s" color="subdued">
        <p>Alerts grouped by what they happened to, with every step taken on them. Newest first.</p>
      </EuiText>
      <EuiSpacer size="m" />
      <IncidentList />
    </>
  )
}
