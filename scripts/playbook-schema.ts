/**
 * Regenerates rules/schema/playbook.v1.json from the TypeBox PlaybookSchema (through the
 * built @vigil/respond, like rule-schema.ts):
 *   npm run build -w @vigil/respond && npx tsx scripts/playbook-schema.ts
 * respond/src/playbooks.test.ts fails when the committed file and the schema differ.
 */
import { PLAYBOOK_SCHEMA_FILE, writePlaybookSchemaFile } from '@vigil/respond'

writePlaybookSchemaFile()
console.log(`wrote ${PLAYBOOK_SCHEMA_FILE}`)
