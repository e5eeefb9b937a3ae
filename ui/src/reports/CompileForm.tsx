/** Compile a report (reports:write): type, period, format, and the incident for dora-incident. */
import {
  EuiButton,
  EuiCallOut,
  EuiDatePicker,
  EuiDatePickerRange,
  EuiFieldText,
  EuiFlexGroup,
  EuiFlexItem,
  EuiForm,
  EuiFormRow,
  EuiSelect,
  EuiSpacer,
} from '@elastic/eui'
import { useMutation } from '@tanstack/react-query'
import moment, { type Moment } from 'moment'
import { useState } from 'react'
import { api } from '../api/client.js'
import { REPORT_FORMATS, REPORT_TYPE_HELP, REPORT_TYPES, type ReportFormat, type ReportType, type StoredReport } from './types.js'

export function CompileForm({ onCompiled }: { onCompiled: (r: StoredReport) => void }) {
  const [type, setType] = useState<ReportType>('kill-switch-log')
  const [format, setFormat] = useState<ReportFormat>('pdf')
  const [from, setFrom] = useState<Moment | null>(() => moment().subtract(7, 'days').startOf('day'))
  const [to, setTo] = useState<Moment | null>(() => moment().startOf('minute'))
  const [incident, setIncident] = useState('')
  const [touched, setTouched] = useState(false)
  const needsIncident = type === 'dora-incident'
  const periodBad = !from || !to || !to.isAfter(from)
  const incidentMissing = needsIncident && incident.trim() === ''

  const compile = useMutation({
    mutationFn: () =>
      api<StoredReport>('/v1/reports', {
        body: { type, format, from: from!.toISOString(), to: to!.toISOString(), ...(needsIncident ? { incident_id: incident.trim() } : {}) },
      }),
    onSuccess: onCompiled,
  })

  const submit = (e?: React.FormEvent) => {
    e?.preventDefault()
    setTouched(true)
    if (periodBad || incidentMissing) return
    compile.mutate()
  }

  return (
    <EuiForm component="form" onSubmit={submit} data-test-subj="reportCompileForm">
      <EuiFlexGroup gutterSize="m" wrap alignItems="flexStart">
        <EuiFlexItem style={{ minWidth: 220 }}>
          <EuiFormRow label="Type" helpText={REPORT_TYPE_HELP[type]}>
            <EuiSelect data-test-subj="reportType" options={REPORT_TYPES.map((t) => ({ value: t, text: t }))} value={type} onChange={(e) => setType(e.target.value as ReportType)} />
          </EuiFormRow>
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 420 }} grow={2}>
          <EuiFormRow label="Period (your local time; from inclusive, to exclusive)" isInvalid={touched && periodBad} error={touched && periodBad ? 'The period must end after it starts' : undefined}>
            <EuiDatePickerRange
              isInvalid={touched && periodBad}
              startDateControl={
                <EuiDatePicker selected={from} onChange={setFrom} showTimeSelect timeFormat="HH:mm" dateFormat="YYYY-MM-DD HH:mm" aria-label="From" data-test-subj="reportFrom" />
              }
              endDateControl={<EuiDatePicker selected={to} onChange={setTo} showTimeSelect timeFormat="HH:mm" dateFormat="YYYY-MM-DD HH:mm" aria-label="To" data-test-subj="reportTo" />}
            />
          </EuiFormRow>
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ minWidth: 110 }}>
          <EuiFormRow label="Format">
            <EuiSelect data-test-subj="reportFormat" options={REPORT_FORMATS.map((f) => ({ value: f, text: f }))} value={format} onChange={(e) => setFormat(e.target.value as ReportFormat)} />
          </EuiFormRow>
        </EuiFlexItem>
        {needsIncident && (
          <EuiFlexItem style={{ minWidth: 200 }}>
            <EuiFormRow label="Incident id" isInvalid={touched && incidentMissing} error={touched && incidentMissing ? 'A dora-incident report needs the incident id' : undefined}>
              <EuiFieldText data-test-subj="reportIncident" value={incident} isInvalid={touched && incidentMissing} onChange={(e) => setIncident(e.target.value)} placeholder="inc_…" />
            </EuiFormRow>
          </EuiFlexItem>
        )}
        <EuiFlexItem grow={false}>
          <EuiFormRow hasEmptyLabelSpace>
            <EuiButton type="submit" fill iconType="document" isLoading={compile.isPending} data-test-subj="reportCompile">
              Compile
            </EuiButton>
          </EuiFormRow>
        </EuiFlexItem>
      </EuiFlexGroup>
      {compile.error && (
        <>
          <EuiSpacer size="s" />
          <EuiCallOut title="The report was not compiled" color="danger" iconType="error" data-test-subj="reportCompileError">
            {compile.error.message}
          </EuiCallOut>
        </>
      )}
    </EuiForm>
  )
}
