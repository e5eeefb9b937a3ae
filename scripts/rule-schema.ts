/**
 * Regenerates rules/schema/detection.v1.json from the TypeBox RuleSchema (through the built
 * @vigil/detect, like errors-doc.ts):
 *   npm run build -w @vigil/detect && npx tsx scripts/rule-schema.ts
 * detect/src/rules.test.ts fails when the committed file and the schema differ.
 */
import { RULE_SCHEMA_FILE, writeRuleSchemaFile } from '@vigil/detect'

writeRuleSchemaFile()
console.log(`wrote ${RULE_SCHEMA_FILE}`)
