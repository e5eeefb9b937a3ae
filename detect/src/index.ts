export { DetectionEngine, chTimeToMs } from './engine.js'
export type { EngineOptions, TickResult, AlertHandover } from './engine.js'
export { streamEventsOf } from './stream-rows.js'
export type { EventRows } from './stream-rows.js'
export { escalateFinding, escalationFor, describeStep } from './escalation.js'
export type { Escalation } from './escalation.js'
export { AlertStore, alertId, ALERT_STATUSES, SETTABLE_STATUSES } from './alerts.js'
export type { Alert, AlertChange, AlertStatus, UpsertResult, AlertListFilter, FeedPosition } from './alerts.js'
export { alertsRoutes } from './alerts-routes.js'
export { alertsStreamRoutes, encodeFeedPosition, decodeFeedPosition } from './alerts-stream.js'
export type { AlertsStreamOptions } from './alerts-stream.js'
export { rulesRoutes, switchRule, summarizeRules, ruleFireStats, RULE_FIRES_DAYS } from './rules-routes.js'
export type { RuleSummary, RuleAudit, RulesRoutesDeps } from './rules-routes.js'
export { RuleStates, effectiveEnabled } from './rule-states.js'
export type { RuleChange, RuleStateSource, RuleStatesOptions } from './rule-states.js'
export type { ListCursor } from './alerts-routes.js'
export { DETECT_MIGRATIONS_DIR } from './migrations.js'
export type { Detector, DetectorContext, EngineRule, EscalationStep, Finding, StreamEvent, Severity, EntityType } from './detector.js'
export {
  RuleSchema,
  RuleTestSchema,
  EscalationStepSchema,
  FixtureEventSchema,
  AllowlistSchema,
  RULE_PARAMS,
  BUILTIN_RULE_IDS,
  SEVERITIES,
  ENTITY_TYPES,
  DURATION_PATTERN,
  RULE_SCHEMA_FILE,
  parseDuration,
  formatDuration,
  durationMicros,
  ruleSchemaJson,
  writeRuleSchemaFile,
} from './rule-schema.js'
export type { RuleFile, RuleTest, FixtureEvent, Allowlist, BuiltinRuleId, RuleParams, RuleParamsFile, ParamValue } from './rule-schema.js'
export {
  loadRules,
  loadDeprecatedRules,
  parseRule,
  readRule,
  listRuleFiles,
  lintRules,
  checkRuleCorpus,
  loadLintExceptions,
  builtinParams,
  ruleFileName,
  formatProblem,
  cidrProblem,
  RuleError,
  LINT_CHECKS,
  DEFAULT_RULES_DIR,
  DEPRECATED_RULES_DIR,
  LINT_EXCEPTIONS_FILE,
} from './rules.js'
export type { Rule, RuleProblem, LintCheck, LintExceptions } from './rules.js'
export { expandFixture, expandRuleFixtures, DEFAULT_FIXTURE_BASE } from './fixtures.js'
export type { ExpandedEvent, ExpandedTest, FixtureRef, FixtureGeo } from './fixtures.js'
export { scanForInjection, IDS_CATEGORIES, IDS_PATTERN_IDS } from './ids-patterns.js'
export type { IdsCategory, IdsMatch, ScanOptions } from './ids-patterns.js'
export { haversineKm, impliedSpeedKmh, isImpossibleTravel, cidrMatcher, networkOf, EARTH_RADIUS_KM } from './geo-math.js'
export type { LatLon, GeoFix } from './geo-math.js'
export {
  robustZ,
  ewma,
  hourOfWeek,
  seasonalHistory,
  scoreAgainstBaseline,
  MAD_TO_SD,
  MEAN_AD_TO_SD,
  MIN_SCALE_RELATIVE,
  MIN_SCALE_ABSOLUTE,
  WEEK_MS,
} from './baseline.js'
export type { RobustZ, RobustZOptions, SeasonalPoint, SeasonalHistoryOptions, BaselineOptions, BaselineScore } from './baseline.js'
export { startDetection, queueAlerts, alertJobId, ALERTS_QUEUE } from './detection.js'
export type { Detection, DetectionDeps } from './detection.js'
export { runRuleFixtures, storeFixtureEvents } from './fixture-runner.js'
export type { FixtureResult } from './fixture-runner.js'
export { BUILTIN_DETECTORS } from './detectors/index.js'
export { windowTotals, latestPerEntity, sumReasons } from './windows.js'
export type { WindowTotals, RollupEntity } from './windows.js'
export { backtest } from './backtest.js'
export type { BacktestAlert, BacktestResult } from './backtest.js'
export { ruleControlParams, ruleControlSnapshots } from './rule-versions.js'
export type { RuleSnapshots } from './rule-versions.js'
export { RuleTestRunSchema, summarizeRuleTestRun, parseRuleTestRun, recordRuleTestRun } from './rule-test-runs.js'
export type { RuleTestRun } from './rule-test-runs.js'
