import { registerEnumType } from 'type-graphql';

export enum Platform {
  FACEBOOK = 'FACEBOOK',
  INSTAGRAM = 'INSTAGRAM',
  AI_ASSISTANT = 'AI_ASSISTANT',
}
export enum ContentKind {
  POST = 'POST',
  COMMENT = 'COMMENT',
  PHOTO_CAPTION = 'PHOTO_CAPTION',
  REEL_CAPTION = 'REEL_CAPTION',
  REVIEW = 'REVIEW',
  AI_PROMPT = 'AI_PROMPT',
  PRIVATE_MESSAGE = 'PRIVATE_MESSAGE',
}
export enum Visibility {
  PUBLIC = 'PUBLIC',
  FRIENDS = 'FRIENDS',
  ONLY_ME = 'ONLY_ME',
}
export enum PolicyMode {
  ENFORCE = 'ENFORCE',
  DRY_RUN = 'DRY_RUN',
}
export enum Purpose {
  AI_MODEL_TRAINING = 'AI_MODEL_TRAINING',
}
export enum ConsentEventType {
  OBJECTION = 'OBJECTION',
  OBJECTION_WITHDRAWN = 'OBJECTION_WITHDRAWN',
}
export enum ConsentScope {
  ALL_AI_TRAINING = 'ALL_AI_TRAINING',
  PUBLIC_CONTENT = 'PUBLIC_CONTENT',
  AI_INTERACTIONS = 'AI_INTERACTIONS',
}
export enum ConsentChannel {
  OBJECTION_FORM = 'OBJECTION_FORM',
  SETTINGS = 'SETTINGS',
  PRIVACY_STAFF = 'PRIVACY_STAFF',
  BULK_IMPORT = 'BULK_IMPORT',
  REGULATOR = 'REGULATOR',
}
/** Why an item is not eligible (DESIGN.md §3). */
export enum ReasonCode {
  PRIVATE_MESSAGE = 'PRIVATE_MESSAGE',
  NOT_PUBLIC = 'NOT_PUBLIC',
  AUTHOR_MINOR_AT_CREATION = 'AUTHOR_MINOR_AT_CREATION',
  AUTHOR_AGE_UNKNOWN = 'AUTHOR_AGE_UNKNOWN',
  REGION_NOT_COVERED = 'REGION_NOT_COVERED',
  OBJECTED = 'OBJECTED',
  CONTENT_DELETED = 'CONTENT_DELETED',
  AUTHOR_ERASED = 'AUTHOR_ERASED',
  PLATFORM_NOT_COVERED = 'PLATFORM_NOT_COVERED',
  KIND_NOT_COVERED = 'KIND_NOT_COVERED',
  OUTSIDE_WINDOW = 'OUTSIDE_WINDOW',
  EXCLUDED_LABEL = 'EXCLUDED_LABEL',
}

registerEnumType(Platform, { name: 'Platform', description: 'Where a content item was produced.' });
registerEnumType(ContentKind, { name: 'ContentKind', description: 'What kind of content an item is.' });
registerEnumType(Visibility, { name: 'Visibility', description: 'Who could see an item.' });
registerEnumType(PolicyMode, { name: 'PolicyMode', description: 'ENFORCE excludes; DRY_RUN only reports what would be excluded.' });
registerEnumType(Purpose, { name: 'Purpose', description: 'The processing purpose a policy governs.' });
registerEnumType(ConsentEventType, { name: 'ConsentEventType', description: 'Kind of consent-ledger event.' });
registerEnumType(ConsentScope, {
  name: 'ConsentScope',
  description: 'What an objection covers: ALL_AI_TRAINING every kind, PUBLIC_CONTENT every kind but AI_PROMPT, AI_INTERACTIONS AI_PROMPT.',
});
registerEnumType(ConsentChannel, { name: 'ConsentChannel', description: 'How a consent event reached us.' });
registerEnumType(ReasonCode, { name: 'ReasonCode', description: 'A reason an item is not eligible (DESIGN.md §3).' });
