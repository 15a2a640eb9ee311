/*
 * A producer-side filter built from FilterCriteria, as a consumer sends them
 * in InitReq.filter and FilterReq. Everything passes until something is
 * excluded; an include overrides an exclude. Entity ids are matched whole;
 * regexes must match the whole entity id. An event that does not pass is
 * still announced, as a FilteredEvent, so the consumer's seq_nr stays whole.
 */
import { StatusError } from "./status-error.js";
import type { FilterCriteria } from "./wire.js";

/** An IncludeEntityIds entry with seq_nr > 0 asks for that entity's events again from seq_nr. */
export interface ReplayFrom { entityId: string; seqNr: number }

export class EventFilter {
  readonly #excludeTags = new Set<string>();
  readonly #includeTags = new Set<string>();
  readonly #excludeRegexes = new Map<string, RegExp>();
  readonly #includeRegexes = new Map<string, RegExp>();
  readonly #excludeIds = new Set<string>();
  readonly #includeIds = new Set<string>();

  /** Applies the criteria in order; throws StatusError (and changes nothing) on one it cannot apply. */
  apply(criteria: readonly FilterCriteria[]): ReplayFrom[] {
    const changes = criteria.map((criterion) => this.#change(criterion));
    const replays: ReplayFrom[] = [];
    for (const change of changes) replays.push(...change());
    return replays;
  }

  passes(entityId: string, tags: readonly string[]): boolean {
    const matches = (ids: Set<string>, regexes: Map<string, RegExp>, tagSet: Set<string>) =>
      ids.has(entityId) || tags.some((tag) => tagSet.has(tag)) || [...regexes.values()].some((regex) => regex.test(entityId));
    if (!matches(this.#excludeIds, this.#excludeRegexes, this.#excludeTags)) return true;
    return matches(this.#includeIds, this.#includeRegexes, this.#includeTags);
  }

  /** Validates one criterion now and returns the change to make once all of them are valid. */
  #change(criterion: FilterCriteria): () => ReplayFrom[] {
    const member = criterion.message;
    const body = (member ? criterion[member] : undefined) as Record<string, unknown> | null | undefined;
    const strings = (field: string) => ((body?.[field] as string[] | undefined) ?? []);
    const done = (fn: () => void) => () => (fn(), []);
    switch (member) {
      case "exclude_tags": return done(() => strings("tags").forEach((t) => this.#excludeTags.add(t)));
      case "remove_exclude_tags": return done(() => strings("tags").forEach((t) => this.#excludeTags.delete(t)));
      case "include_tags": return done(() => strings("tags").forEach((t) => this.#includeTags.add(t)));
      case "remove_include_tags": return done(() => strings("tags").forEach((t) => this.#includeTags.delete(t)));
      case "exclude_matching_entity_ids": return this.#addRegexes(this.#excludeRegexes, strings("matching"));
      case "remove_exclude_matching_entity_ids": return done(() => strings("matching").forEach((m) => this.#excludeRegexes.delete(m)));
      case "include_matching_entity_ids": return this.#addRegexes(this.#includeRegexes, strings("matching"));
      case "remove_include_matching_entity_ids": return done(() => strings("matching").forEach((m) => this.#includeRegexes.delete(m)));
      case "exclude_entity_ids": return done(() => strings("entity_ids").forEach((id) => this.#excludeIds.add(id)));
      case "remove_exclude_entity_ids": return done(() => strings("entity_ids").forEach((id) => this.#excludeIds.delete(id)));
      case "include_entity_ids": {
        const offsets = (body?.entity_id_offset as { entity_id: string; seq_nr: number }[] | undefined) ?? [];
        return () => {
          offsets.forEach(({ entity_id }) => this.#includeIds.add(entity_id));
          return offsets.filter(({ seq_nr }) => seq_nr > 0).map(({ entity_id, seq_nr }) => ({ entityId: entity_id, seqNr: seq_nr }));
        };
      }
      case "remove_include_entity_ids": return done(() => strings("entity_ids").forEach((id) => this.#includeIds.delete(id)));
      case "include_topics":
      case "remove_include_topics":
        throw new StatusError("UNIMPLEMENTED", `filter criterion ${member}: the stand-in has no topics (its events carry no tags)`);
      default:
        throw new StatusError("INVALID_ARGUMENT", "a FilterCriteria has none of its 14 members set");
    }
  }

  #addRegexes(into: Map<string, RegExp>, patterns: string[]): () => ReplayFrom[] {
    const compiled = patterns.map((pattern) => {
      try {
        return [pattern, new RegExp(`^(?:${pattern})$`)] as const;
      } catch (e) {
        throw new StatusError("INVALID_ARGUMENT", `filter regex ${JSON.stringify(pattern)} does not compile: ${(e as Error).message}`);
      }
    });
    return () => (compiled.forEach(([pattern, regex]) => into.set(pattern, regex)), []);
  }
}
