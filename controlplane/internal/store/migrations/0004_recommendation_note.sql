-- Why a recommendation is not the obvious one (the best match feeds from
-- another integration, or nothing can be recommended and what to do).
ALTER TABLE recommendations ADD COLUMN note TEXT NOT NULL DEFAULT '';
