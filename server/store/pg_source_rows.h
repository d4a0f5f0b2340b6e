#pragma once
// Decoding a source_state row (its MM_SOURCE_STATUS_COLUMNS, in order), shared by the source
// store and the read store.

#include <pqxx/pqxx>

#include "store/pg_connection.h"
#include "store/source_store.h"

namespace mm::store {

SourceStatus SourceStatusFrom(const pqxx::row& r);

}  // namespace mm::store
