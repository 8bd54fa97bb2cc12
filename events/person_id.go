package events

// PersonIDOf returns the person an event about one person names, and true: its creation, a
// membership, face or permission binding added or removed, its deletion's request, the
// targets' confirmation and the deletion's end. These are the events a person's own subject
// records (AggregatePerson, the person's ID). For any other event it returns "" and false: a
// step event that lists persons (PersonIDsOf), or a group's, permission group's or request's.
func PersonIDOf(data any) (string, bool) {
	switch e := data.(type) {
	case PersonCreated:
		return e.PersonID, true
	case PersonAddedToGroup:
		return e.PersonID, true
	case PersonRemovedFromGroup:
		return e.PersonID, true
	case FaceAdded:
		return e.PersonID, true
	case FaceDeleted:
		return e.PersonID, true
	case PermissionGroupBound:
		return e.PersonID, true
	case PermissionGroupUnbound:
		return e.PersonID, true
	case PersonDeletionRequested:
		return e.PersonID, true
	case PersonRemovedFromTargets:
		return e.PersonID, true
	case PersonDeleted:
		return e.PersonID, true
	case PersonDeletionFailed:
		return e.PersonID, true
	case PersonDeletionCancelled:
		return e.PersonID, true
	}
	return "", false
}
