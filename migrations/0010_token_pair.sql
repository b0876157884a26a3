-- A refresh reuses its refresh token (as DIGIT's egov-user does): each refresh revokes the
-- access tokens issued under it, found by their pair_hash.
CREATE INDEX eg_user_token_pair ON eg_user_token (pair_hash);
