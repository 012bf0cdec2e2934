/** The control database's tables, named once. */
export const RDS_TABLE = 'rds_instances'
export const ROUTING_CACHE_TABLE = 'user_email_routing_cache'
