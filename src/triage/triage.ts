import { InvalidPatient, PathwayDoesNotApply, PathwayNotFound } from '../errors.js';
import type { PathwayVersion } from '../rulesets/version.js';
import { resolveTopic, type Resolution } from '../rulesets/topics.js';
import { TopicSearch, type TopicSearchResult } from '../search/topic-search.js';
import { applicabilityProblem, type Answer, type Patient } from './answers.js';
import { patientProblem } from './patient.js';
import { decide, type DecideOptions, type Decision } from './decide.js';
import { EngineRegistry, type ExtraOperators, type RuleEvaluationMode } from './engines.js';
import type { DecisionSemantics } from './settled.js';

export interface TriageOptions extends DecideOptions {
  extraOperators?: ExtraOperators;
  /** `needed` unless set: see RuleEvaluationMode. */
  ruleEvaluation?: RuleEvaluationMode;
}

/**
 * The one decision path shared by the API, the scenario runner and the command-line tools:
 * pathway versions in, decisions out. Engines are prepared here once per version.
 */
export class Triage {
  private readonly engines: EngineRegistry;
  private readonly byHash = new Map<string, PathwayVersion>();
  private active: ReadonlyMap<string, PathwayVersion> = new Map();
  private search!: TopicSearch;

  constructor(
    versions: Iterable<PathwayVersion>,
    private readonly options: TriageOptions,
  ) {
    this.engines = new EngineRegistry(options.ruleEvaluation, options.extraOperators);
    this.activate(versions);
  }

  /** Makes these versions the ones new assessments use; older versions stay usable by hash. */
  activate(versions: Iterable<PathwayVersion>): void {
    const next = new Map<string, PathwayVersion>();
    for (const version of versions) {
      this.engines.plansFor(version);
      this.byHash.set(version.hash, version);
      next.set(version.id, version);
    }
    this.active = next;
    // The symptom index belongs to this set of versions: built here, once, not per search.
    this.search = new TopicSearch([...next.values()]);
  }

  pathways(): PathwayVersion[] {
    return [...this.active.values()];
  }

  /** Symptom search over the active topics; for this person only when one is given. */
  searchTopics(query: string, person?: Patient): TopicSearchResult {
    return this.search.search(query, person);
  }

  pathway(id: string): PathwayVersion {
    const version = this.active.get(id);
    if (!version) {
      throw new PathwayNotFound(id);
    }
    return version;
  }

  version(hash: string): PathwayVersion | undefined {
    return this.byHash.get(hash);
  }

  /** Adds a version (for example one read back from the database for replay) without activating it. */
  register(version: PathwayVersion): void {
    this.engines.plansFor(version);
    this.byHash.set(version.hash, version);
  }

  /**
   * The pathway a patient asking for this topic or pathway is assessed on: the variant that
   * serves them, else the catch-all (saying why). Refuses a patient no one could be (422).
   */
  resolve(topicOrPathwayId: string, patient: Patient): Resolution {
    const problem = patientProblem(patient);
    if (problem) {
      throw new InvalidPatient(problem);
    }
    return resolveTopic(this.pathways(), topicOrPathwayId, patient);
  }

  checkApplies(version: PathwayVersion, patient: Patient): void {
    const problem = applicabilityProblem(version, patient);
    if (problem) {
      throw new PathwayDoesNotApply(problem);
    }
  }

  /** Decides with the current semantics, or with the ones a trace being replayed was made with. */
  decide(version: PathwayVersion, patient: Patient, answers: Answer[], semantics?: DecisionSemantics): Promise<Decision> {
    return decide(version, this.engines.plansFor(version), patient, answers, this.options, semantics);
  }
}
